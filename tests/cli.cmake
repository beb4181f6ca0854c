# Command-line tests: result files (--out, --report: devices, symlinks,
# folders, runs killed mid-write, stale temporaries), the plugin directory of
# an installed tree, the note on branches not configured, `tillpipe config`.

# tests/plugins_cli/misbehave.c: an override plugin that hangs or crashes on
# request, in a directory of its own (the tests copy it next to the bundled
# plugins where they need it).
add_library(tp_cli_misbehave MODULE ${CMAKE_CURRENT_SOURCE_DIR}/plugins_cli/misbehave.c)
target_link_libraries(tp_cli_misbehave PRIVATE tillpipe_sdk)
set_target_properties(tp_cli_misbehave PROPERTIES PREFIX "" OUTPUT_NAME misbehave
                      LIBRARY_OUTPUT_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR}/plugins_cli
                      C_VISIBILITY_PRESET hidden)
target_link_options(tp_cli_misbehave PRIVATE -Wl,--no-undefined -Wl,-z,defs)

tp_add_check_test(test_cli test_cli.c)
target_compile_definitions(test_cli PRIVATE
  TP_TEST_MISBEHAVE_SO="$<TARGET_FILE:tp_cli_misbehave>"
  TP_TEST_CMAKE="${CMAKE_COMMAND}")
add_dependencies(test_cli tp_cli_misbehave)
