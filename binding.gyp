{
  # Two addons from one core: las_native is the daemon's (the product only), las_bench holds the
  # tools beside it (traffic generator, sink, micro-benchmarks, the socket-free Classifier,
  # sendFrames, the pass-through baseline). The core is compiled once, into a static library.
  "target_defaults": {
    "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
    "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_DEPRECATED"],
    "cflags!": ["-fno-exceptions"],
    "cflags_cc!": ["-fno-exceptions", "-fno-rtti"],
    "cflags_cc": ["-std=c++17", "-O2", "-Wall", "-Wextra", "-Wno-missing-field-initializers"],
    "ldflags": ["-pthread"]
  },
  "targets": [
    {
      "target_name": "las_core",
      "type": "static_library",
      "cflags": ["-fPIC"],
      "sources": [
        "native/lb/flow_table.cc",
        "native/lb/maglev.cc",
        "native/lb/snapshot.cc",
        "native/lb/scheduler.cc",
        "native/dataplane/classify.cc",
        "native/dataplane/fanout.cc",
        "native/dataplane/explain.cc",
        "native/io/packet_socket.cc",
        "native/io/worker.cc",
        "native/io/dataplane.cc",
        "native/io/flow_file.cc",
        "native/os/capabilities.cc",
        "native/os/sd_notify.cc",
        "native/addon/convert.cc",
        "native/addon/contract.cc"
      ]
    },
    {
      "target_name": "las_native",
      "dependencies": ["las_core"],
      "sources": ["native/addon/addon.cc", "native/addon/explain_js.cc"]
    },
    {
      "target_name": "las_bench",
      "dependencies": ["las_core"],
      "sources": [
        "native/bench/frame_sender.cc",
        "native/bench/generator.cc",
        "native/bench/sink.cc",
        "native/bench/microbench.cc",
        "native/bench/pass_through.cc",
        "native/addon/classifier_wrap.cc",
        "native/addon/bench_bindings.cc",
        "native/addon/bench_addon.cc"
      ]
    }
  ]
}
