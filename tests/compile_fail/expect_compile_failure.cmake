# Compiles SOURCE with and without -DGOSSIPCLUSTER_WRONG_POLICY: the first must succeed, the second
# must fail with a diagnostic matching every regular expression in EXPECT.
#
# Inputs (-D): COMPILER, SOURCE, INCLUDES (separated by |), EXPECT (regular expressions separated
# by @@, since | belongs to regular expressions).
foreach(var COMPILER SOURCE INCLUDES EXPECT)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "expect_compile_failure.cmake: ${var} is not set")
  endif()
endforeach()

string(REPLACE "|" ";" include_dirs "${INCLUDES}")
string(REPLACE "@@" ";" expectations "${EXPECT}")
set(flags -std=c++20 -fsyntax-only -fno-diagnostics-color)
foreach(dir IN LISTS include_dirs)
  list(APPEND flags "-I${dir}")
endforeach()

execute_process(COMMAND "${COMPILER}" ${flags} "${SOURCE}"
  RESULT_VARIABLE good_rc OUTPUT_VARIABLE good_out ERROR_VARIABLE good_err)
if(NOT good_rc EQUAL 0)
  message(FATAL_ERROR "the control build (valid policy) does not compile, so the test proves "
                      "nothing:\n${good_out}${good_err}")
endif()

execute_process(COMMAND "${COMPILER}" ${flags} -DGOSSIPCLUSTER_WRONG_POLICY "${SOURCE}"
  RESULT_VARIABLE bad_rc OUTPUT_VARIABLE bad_out ERROR_VARIABLE bad_err)
if(bad_rc EQUAL 0)
  message(FATAL_ERROR "ClusterCore accepted a policy that does not satisfy its concept")
endif()
set(diagnostic "${bad_out}${bad_err}")
foreach(re IN LISTS expectations)
  if(NOT diagnostic MATCHES "${re}")
    message(FATAL_ERROR "the diagnostic does not match '${re}':\n${diagnostic}")
  endif()
endforeach()
string(LENGTH "${diagnostic}" length)
message(STATUS "rejected as expected (${length} bytes of diagnostics, all of: ${expectations})")
