// C++ exceptions become JavaScript errors at the boundary: std::invalid_argument (a bad option) a
// RangeError, anything else a plain Error with the same message.
#pragma once
#include <napi.h>

#include <exception>
#include <stdexcept>

namespace las {

inline Napi::Error to_js_error(Napi::Env env, const std::exception& e) {
  if (dynamic_cast<const std::invalid_argument*>(&e)) return Napi::RangeError::New(env, e.what());
  return Napi::Error::New(env, e.what());
}

template <typename F>
auto guarded(Napi::Env env, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::exception& e) {
    throw to_js_error(env, e);
  }
}

}  // namespace las
