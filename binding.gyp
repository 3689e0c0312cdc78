{
  "targets": [
    {
      "target_name": "las_native",
      "sources": [
        "native/lb/flow_table.cc",
        "native/lb/maglev.cc",
        "native/lb/snapshot.cc",
        "native/dataplane/classify.cc",
        "native/dataplane/fanout.cc",
        "native/io/packet_socket.cc",
        "native/io/worker.cc",
        "native/io/dataplane.cc",
        "native/io/frame_sender.cc",
        "native/os/capabilities.cc",
        "native/addon/convert.cc",
        "native/addon/bench_bindings.cc",
        "native/bench/generator.cc",
        "native/bench/sink.cc",
        "native/bench/microbench.cc",
        "native/addon/addon.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc": ["-std=c++17", "-O2", "-Wall", "-Wextra", "-Wno-missing-field-initializers"],
      "ldflags": ["-pthread"]
    }
  ]
}
