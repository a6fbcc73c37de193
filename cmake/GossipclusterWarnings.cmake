# Warning and sanitizer flags for the project's own targets (never pushed onto consumers).
function(gossipcluster_target_options target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Wconversion
    -Wno-sign-conversion)
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    # GCC 12 at -O2 reports std::variant/std::vector internals as maybe-uninitialized (GCC bug
    # 80635 and relatives) in correct code; its definite -Wuninitialized stays, and the Clang build
    # keeps Clang's uninitialized checks.
    target_compile_options(${target} PRIVATE -Wno-maybe-uninitialized)
  endif()
  if(GOSSIPCLUSTER_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
  if(GOSSIPCLUSTER_SANITIZE)
    target_compile_options(${target} PRIVATE -fsanitize=address,undefined -fno-sanitize-recover=all
      -fno-omit-frame-pointer)
    target_link_options(${target} PRIVATE -fsanitize=address,undefined -fno-sanitize-recover=all)
  endif()
endfunction()
