# Warning and sanitizer flags for the project's own targets (never pushed onto consumers).
function(gossipcluster_target_options target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Wconversion
    -Wno-sign-conversion)
  if(GOSSIPCLUSTER_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
  if(GOSSIPCLUSTER_SANITIZE)
    target_compile_options(${target} PRIVATE -fsanitize=address,undefined -fno-sanitize-recover=all
      -fno-omit-frame-pointer)
    target_link_options(${target} PRIVATE -fsanitize=address,undefined -fno-sanitize-recover=all)
  endif()
endfunction()
