# tillpipePlugin.cmake -- how a tillpipe parser plugin is built: the one
# definition, used by the bundled plugins (plugins/*/CMakeLists.txt) and, as
# part of the installed CMake package (find_package(tillpipe)), by every
# plugin built out of tree.
#
#   tillpipe_add_plugin(<name> <source>... [NO_INSTALL])
#
# makes <name>.so, a MODULE library (dlopen-ed, never linked against) that
#   - has no "lib" prefix: the file is <name>.so;
#   - is C11 without extensions, position-independent;
#   - is compiled with hidden visibility, so that only tp_plugin_entry (marked
#     TP_PLUGIN_EXPORT by the SDK) is exported;
#   - is linked with -Wl,--no-undefined -Wl,-z,defs: a symbol that no library
#     provides fails the build, not the load (tillpipe loads with RTLD_NOW and
#     a plugin may use only libc);
#   - records no build path: -ffile-prefix-map rewrites the source tree and
#     the build tree to "." and the SDK's include directory to "tillpipe-sdk"
#     in debug information and __FILE__, so the same sources, compiler and
#     flags give the same bytes (and sha256) wherever they are built;
#   - links tillpipe::sdk (the headers; there is nothing to link);
#   - unless NO_INSTALL, installs into ${TILLPIPE_PLUGIN_DIR}: relative to
#     CMAKE_INSTALL_PREFIX, or absolute.
#
# Expects the target tillpipe::sdk, TILLPIPE_INCLUDE_DIR (the directory that
# holds tillpipe/sdk.h) and TILLPIPE_PLUGIN_DIR; tillpipeConfig.cmake sets
# them, and the top-level CMakeLists.txt of the tillpipe sources.  Warnings
# are left to the caller.  The output directory is CMake's usual one
# (CMAKE_LIBRARY_OUTPUT_DIRECTORY, or the current build directory).
include_guard(GLOBAL)

function(tillpipe_add_plugin name)
  cmake_parse_arguments(PARSE_ARGV 1 arg "NO_INSTALL" "" "")
  if(NOT arg_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "tillpipe_add_plugin(${name}): no source files; "
                        "usage: tillpipe_add_plugin(<name> <source>... [NO_INSTALL])")
  endif()
  if(NOT TILLPIPE_INCLUDE_DIR OR NOT TARGET tillpipe::sdk)
    message(FATAL_ERROR "tillpipe_add_plugin(${name}): the tillpipe SDK is not set up; "
                        "call find_package(tillpipe) first")
  endif()
  add_library(${name} MODULE ${arg_UNPARSED_ARGUMENTS})
  target_link_libraries(${name} PRIVATE tillpipe::sdk)
  set_target_properties(${name} PROPERTIES
    PREFIX ""
    C_STANDARD 11
    C_STANDARD_REQUIRED ON
    C_EXTENSIONS OFF
    C_VISIBILITY_PRESET hidden
    POSITION_INDEPENDENT_CODE ON)
  if(CMAKE_C_COMPILER_ID MATCHES "GNU|Clang")
    # GCC and Clang apply the last matching map: the build tree's wins where
    # it lies inside the source tree, the SDK's wherever it lies.  The
    # compiler's working directory, recorded too, is the current build
    # directory (Makefiles) or the top one (Ninja): both become ".".
    target_compile_options(${name} PRIVATE
      "-ffile-prefix-map=${CMAKE_SOURCE_DIR}=."
      "-ffile-prefix-map=${CMAKE_BINARY_DIR}=."
      "-ffile-prefix-map=${CMAKE_CURRENT_BINARY_DIR}=."
      "-ffile-prefix-map=${TILLPIPE_INCLUDE_DIR}=tillpipe-sdk")
    target_link_options(${name} PRIVATE -Wl,--no-undefined -Wl,-z,defs)
  endif()
  if(NOT arg_NO_INSTALL)
    if(NOT TILLPIPE_PLUGIN_DIR)
      message(FATAL_ERROR "tillpipe_add_plugin(${name}): TILLPIPE_PLUGIN_DIR is not set; "
                          "find_package(tillpipe) sets it, or pass NO_INSTALL")
    endif()
    install(TARGETS ${name} LIBRARY DESTINATION "${TILLPIPE_PLUGIN_DIR}")
  endif()
endfunction()
