# Checks that `busdump PCAP` dumps exactly the messages of the capture's listing.
# Usage: cmake -DBUSDUMP=... -DPCAP=... -DLISTING=... -P this-file
#
# Each listing names the capture frames it copied ("frames copied from the full capture: [..]")
# and gives, per message, its bus ports, its length and its decoded lines. The check is
# independent of packet order: both outputs are reduced to entries
#   "<src port> -> <dst port> <totlen>\n<message lines>"
# which are sorted and compared as multisets. Equal multisets mean every listed message was
# found once per listing, with its TCP direction, and that the dump has nothing beyond them; the
# entry count is also compared with the number of capture frames the listing names.
execute_process(COMMAND "${BUSDUMP}" "${PCAP}"
  RESULT_VARIABLE rc OUTPUT_VARIABLE dump ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "busdump exited ${rc}:\n${err}")
endif()
file(READ "${LISTING}" listing)

string(REGEX MATCH "frames copied from the full capture: \\[([0-9, ]*)\\]" _ "${listing}")
if("${CMAKE_MATCH_1}" STREQUAL "")
  message(FATAL_ERROR "${LISTING} names no capture frames")
endif()
string(REGEX MATCHALL "[0-9]+" listed_frames "${CMAKE_MATCH_1}")
list(LENGTH listed_frames listed_count)

# Split text into blank-line separated blocks that start with `heading_regex`, rewriting the
# heading to the common form. ';' and brackets are masked first so that list() keeps them.
function(entries text heading_regex replacement out_var)
  string(REGEX REPLACE "${heading_regex}" "${replacement}" text "${text}")
  string(REPLACE ";" "<semicolon>" text "${text}")
  string(REPLACE "[" "<lb>" text "${text}")
  string(REPLACE "]" "<rb>" text "${text}")
  string(REPLACE "\n\n" ";" blocks "${text}")
  set(result "")
  foreach(b IN LISTS blocks)
    string(STRIP "${b}" b)
    if(b MATCHES "^@@ ")
      list(APPEND result "${b}")
    endif()
  endforeach()
  list(SORT result)
  set(${out_var} "${result}" PARENT_SCOPE)
endfunction()

entries("${dump}"
  "## frame [0-9]+  [^\n]*:([0-9]+) -> [^\n]*:([0-9]+)  \\(([0-9]+) bytes\\)"
  "@@ \\1 -> \\2 \\3" dumped)
entries("${listing}"
  "## message [0-9]+ -> [^\n]*\\(frames [^\n]*, bus port ([0-9]+) -> ([0-9]+), ([0-9]+) bytes\\)"
  "@@ \\1 -> \\2 \\3" expected)

list(LENGTH dumped dumped_count)
list(LENGTH expected expected_count)
if(NOT expected_count EQUAL listed_count)
  message(FATAL_ERROR "${LISTING}: ${expected_count} messages for ${listed_count} frames")
endif()
if(NOT dumped_count EQUAL listed_count)
  message(FATAL_ERROR "dumped ${dumped_count} frames, the listing names ${listed_count}")
endif()
if(NOT dumped STREQUAL expected)
  string(REPLACE ";" "\n\n" dumped "${dumped}")
  string(REPLACE ";" "\n\n" expected "${expected}")
  message(FATAL_ERROR "dump differs from the listing\n--- dumped:\n${dumped}\n--- listed:\n${expected}")
endif()
message(STATUS "${dumped_count} frames match ${LISTING}")
