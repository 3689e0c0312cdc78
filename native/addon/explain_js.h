// `las explain` across the N-API boundary: the tuples in, the explanations out, and the offline
// answer (a snapshot built from specs, no sockets).
#pragma once
#include <napi.h>

#include <vector>

#include "../dataplane/explain.h"

namespace las {

std::vector<ExplainTuple> tuples_from_js(Napi::Env env, const Napi::Value& value);
Napi::Array explanations_to_js(Napi::Env env, const std::vector<Explanation>& xs);
// explainFlows(snapshot, {workers, flowIdleTimeoutMs}, tuples): what a freshly started daemon with
// this snapshot does with each tuple's first packet.
Napi::Value explain_offline(const Napi::CallbackInfo& info);

}  // namespace las
