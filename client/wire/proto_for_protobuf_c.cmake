# Copies a .proto for protoc-c (cmake -P, with IN and OUT set). protoc-c 1.4.1 (Debian 12) refuses
# proto3 `optional` (field presence); the copy drops the keyword, so such a field becomes a plain
# proto3 field of the same number and type. Its wire encoding is the same; only an explicit zero
# cannot be told from unset, which gssgate_wire_set_init_flags() makes up for (the one such field,
# InitSecContextRequest.flags). A new `optional` field needs the same care: the build fails on it
# (EXPECTED lists the fields known to be handled) so nobody loses its presence unknowingly.
cmake_policy(VERSION 3.25)
file(READ "${IN}" text)
string(REGEX MATCHALL "\n[ \t]*optional [^;\n]*" found "${text}")
foreach(line IN LISTS found)
  string(STRIP "${line}" line)
  if(NOT line IN_LIST EXPECTED)
    message(FATAL_ERROR "${IN}: \"${line}\" has proto3 presence, which protoc-c 1.4 cannot express;"
                        " handle it in client/wire/gssgate_wire.c and add it to EXPECTED in"
                        " client/wire/CMakeLists.txt")
  endif()
endforeach()
string(REGEX REPLACE "\n([ \t]*)optional " "\n\\1" text "${text}")
file(WRITE "${OUT}" "${text}")
