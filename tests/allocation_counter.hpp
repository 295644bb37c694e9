#pragma once
// Counts heap allocations, for the tests that a repeated training step allocates nothing. It
// replaces the global operator new, so include it in one source file of a test program only.
#include <atomic>
#include <cstdlib>
#include <new>

inline std::atomic<long> allocation_count{0};

void* operator new(std::size_t size) {
  ++allocation_count;
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
