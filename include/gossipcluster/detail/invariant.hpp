// GOSSIPCLUSTER_INVARIANT: the one assertion macro of the core, on in debug and simulator builds.
#pragma once

#include <stdexcept>
#include <string>

namespace gossipcluster {

// Thrown when the core finds its own state contradicting a rule it relies on: a bug in the core,
// never a peer's doing (peer input is validated before it can reach an invariant).
class InvariantViolation : public std::logic_error {
  public:
    using std::logic_error::logic_error;
};

namespace detail {

[[noreturn]] inline void invariant_failed(const char* condition, const char* file, int line) {
    throw InvariantViolation(std::string("gossipcluster invariant violated: ") + condition + " (" +
                             file + ":" + std::to_string(line) + ")");
}

}  // namespace detail
}  // namespace gossipcluster

// Checked where GOSSIPCLUSTER_INVARIANTS is defined (the CMake option of the same name, on for
// debug builds, the tests and the simulator) or NDEBUG is not; compiled out otherwise. The
// condition must have no side effects. Whole-state checks too costly for every call site live in
// ClusterState::check_invariants(), which the simulator's checker runs after every step.
#if defined(GOSSIPCLUSTER_INVARIANTS) || !defined(NDEBUG)
#define GOSSIPCLUSTER_INVARIANT(condition) \
    ((condition) ? static_cast<void>(0)    \
                 : ::gossipcluster::detail::invariant_failed(#condition, __FILE__, __LINE__))
#define GOSSIPCLUSTER_INVARIANTS_ON 1
#else
#define GOSSIPCLUSTER_INVARIANT(condition) static_cast<void>(0)
#define GOSSIPCLUSTER_INVARIANTS_ON 0
#endif
