// The emulated device of the in-process device tests: two devices (so that a test can check
// that gapm leaves the caller's device alone), 1 GiB each (so that a test can run out of it),
// streams jittered (so that missing stream dependencies show). Set before main(), before the
// emulation reads them; a value given in the environment wins.
#include <cstdlib>

namespace {

const bool emulation_settings = [] {
  ::setenv("EMULATED_GPU_COUNT", "2", 0);
  ::setenv("EMULATED_GPU_MEMORY", "1073741824", 0);
  ::setenv("EMULATED_GPU_JITTER_US", "20", 0);
  return true;
}();

}  // namespace
