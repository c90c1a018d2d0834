// File: grpc_happens_before.h
// Tells ThreadSanitizer about the ordering that gRPC guarantees across its own
// threads, which TSan cannot see: Debian's gRPC, Abseil and protobuf are not built
// with TSan, so the locks and atomics by which gRPC hands a call from one of its
// threads to another are invisible to it (CONTRIBUTING.md, "Sanitizers").
//
// Contract: `published(p)` at a point A and `observed(p)` at a point B, with the same
// address, tell TSan that A happens before B. Use them only where gRPC documents the
// order: code before a gRPC call (StartWrite, Finish, returning a reactor) happens
// before the reaction it causes (OnWriteDone, OnCancel, OnDone) on whichever thread
// runs it, and every reaction's end happens before Server::Shutdown returns. Outside
// a TSan build both are empty inline functions. Thread-safe; never block.
#pragma once

#if defined(__SANITIZE_THREAD__)
#include <sanitizer/tsan_interface.h>
#endif

namespace aipool::net {

inline void published(const void* p) {
#if defined(__SANITIZE_THREAD__)
  __tsan_release(const_cast<void*>(p));
#else
  (void)p;
#endif
}

inline void observed(const void* p) {
#if defined(__SANITIZE_THREAD__)
  __tsan_acquire(const_cast<void*>(p));
#else
  (void)p;
#endif
}

}  // namespace aipool::net
