// The socket-free Classifier: the I/O threads' per-frame decision (dataplane/classify.h) on frames
// handed in from JavaScript, for golden-frame tests, the simulator and the fuzz-finding replays.
#pragma once
#include <napi.h>

namespace las {
Napi::Function define_classifier(Napi::Env env);
}
