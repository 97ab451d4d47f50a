# cmake -D IN=file -D OUT=file.c -D NAME=symbol -P SkiffBin2C.cmake
# Writes IN's bytes as `const unsigned char NAME[]` and `const size_t
# NAME_len` (declared in umem/bpf/umem_bpf.h), so no tool beyond CMake is
# needed to embed a binary.
if(NOT IN OR NOT OUT OR NOT NAME)
  message(FATAL_ERROR "usage: cmake -D IN=file -D OUT=file.c -D NAME=symbol -P SkiffBin2C.cmake")
endif()
file(READ ${IN} _hex HEX)
string(LENGTH "${_hex}" _len)
math(EXPR _len "${_len} / 2")
if(_len EQUAL 0)
  message(FATAL_ERROR "SkiffBin2C: ${IN} is empty")
endif()
# 16 bytes a line (CMake's regex has no {n}).
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," _bytes "${_hex}")
string(REPEAT "0x..," 16 _line)
string(REGEX REPLACE "(${_line})" "\\1\n\t" _bytes "${_bytes}")
string(REGEX REPLACE "\n\t$" "" _bytes "${_bytes}")
get_filename_component(_in_name ${IN} NAME)
file(WRITE ${OUT} "/* Generated from ${_in_name} by SkiffBin2C.cmake; do not edit. */\n"
  "#include <stddef.h>\n\n"
  "extern const unsigned char ${NAME}[];\n"
  "extern const size_t ${NAME}_len;\n\n"
  "/* libelf reads the ELF headers in place: keep them aligned. */\n"
  "__attribute__((aligned(8))) const unsigned char ${NAME}[${_len}] = {\n\t${_bytes}\n};\n"
  "const size_t ${NAME}_len = ${_len};\n")
