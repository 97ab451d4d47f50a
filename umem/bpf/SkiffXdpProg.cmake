# Included by umem/CMakeLists.txt: builds skiff's XDP program with clang
# -target bpf and embeds the object into skiff_umem as a C array
# (umem__xdp_prog[], umem__xdp_prog_len), so nothing has to be installed
# beside the library. Sets SKIFF_XDP_PROG_SOURCES to the generated source.
find_program(SKIFF_BPF_CLANG NAMES clang clang-16 clang-15 clang-14 clang-13
  DOC "clang that can target BPF, for umem/bpf/skiff_xdp.bpf.c")
if(NOT SKIFF_BPF_CLANG)
  message(FATAL_ERROR "skiff: clang not found. It compiles the XDP program "
    "(umem/bpf/skiff_xdp.bpf.c): install clang and llvm (tests/host/setup.sh does), "
    "or point -DSKIFF_BPF_CLANG=/path/to/clang at one.")
endif()
# Drops DWARF from the embedded object but keeps .BTF, which libxdp needs.
find_program(SKIFF_BPF_STRIP NAMES llvm-strip llvm-strip-16 llvm-strip-15 llvm-strip-14
  DOC "llvm-strip, optional: shrinks the embedded XDP object")

set(_skiff_bpf_dir ${CMAKE_CURRENT_LIST_DIR})
set(_skiff_bpf_src ${_skiff_bpf_dir}/skiff_xdp.bpf.c)
set(_skiff_bpf_obj ${CMAKE_CURRENT_BINARY_DIR}/skiff_xdp.bpf.o)
set(_skiff_bpf_c ${CMAKE_CURRENT_BINARY_DIR}/skiff_xdp_prog.c)

# -target bpf does not search the multiarch directory that holds <asm/...>.
set(_skiff_bpf_includes -I${_skiff_bpf_dir})
if(CMAKE_LIBRARY_ARCHITECTURE AND EXISTS /usr/include/${CMAKE_LIBRARY_ARCHITECTURE})
  list(APPEND _skiff_bpf_includes -I/usr/include/${CMAKE_LIBRARY_ARCHITECTURE})
endif()

set(_skiff_bpf_strip_cmd)
if(SKIFF_BPF_STRIP)
  set(_skiff_bpf_strip_cmd COMMAND ${SKIFF_BPF_STRIP} -g ${_skiff_bpf_obj})
endif()

add_custom_command(OUTPUT ${_skiff_bpf_obj}
  COMMAND ${SKIFF_BPF_CLANG} -target bpf -O2 -g -Wall -Wextra -Werror
          ${_skiff_bpf_includes} -c ${_skiff_bpf_src} -o ${_skiff_bpf_obj}
  ${_skiff_bpf_strip_cmd}
  DEPENDS ${_skiff_bpf_src} ${_skiff_bpf_dir}/umem_bpf.h
  COMMENT "Building XDP program skiff_xdp.bpf.o"
  VERBATIM)
add_custom_command(OUTPUT ${_skiff_bpf_c}
  COMMAND ${CMAKE_COMMAND} -D IN=${_skiff_bpf_obj} -D OUT=${_skiff_bpf_c} -D NAME=umem__xdp_prog
          -P ${_skiff_bpf_dir}/SkiffBin2C.cmake
  DEPENDS ${_skiff_bpf_obj} ${_skiff_bpf_dir}/SkiffBin2C.cmake
  COMMENT "Embedding skiff_xdp.bpf.o"
  VERBATIM)

set(SKIFF_XDP_PROG_SOURCES ${_skiff_bpf_c})
