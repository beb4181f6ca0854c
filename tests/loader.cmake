# Plugin loader tests: broken plugins the loader must refuse with the right
# message, registry conflicts and resolution, exported symbols of every
# plugin, and the SDK template built out of tree against installed headers.

# tests/plugins_bad/bad_plugin.c, compiled once per variant into a directory of
# its own -- never into ${TP_PLUGIN_OUT}, which the engine loads.
set(TP_BAD_PLUGIN_DIR ${CMAKE_CURRENT_BINARY_DIR}/plugins_bad)
set(TP_BAD_PLUGIN_TARGETS "")

# tp_loader_bad_plugin(NAME DEFINITIONS...): NAME.so from bad_plugin.c.
function(tp_loader_bad_plugin name)
  set(t tp_loader_${name})
  add_library(${t} MODULE ${CMAKE_CURRENT_SOURCE_DIR}/plugins_bad/bad_plugin.c)
  target_link_libraries(${t} PRIVATE tillpipe_sdk)
  target_compile_definitions(${t} PRIVATE ${ARGN})
  set_target_properties(${t} PROPERTIES PREFIX "" OUTPUT_NAME ${name}
                        LIBRARY_OUTPUT_DIRECTORY ${TP_BAD_PLUGIN_DIR}
                        C_VISIBILITY_PRESET hidden)
  if(NOT "BAD_UNDEFINED" IN_LIST ARGN) # that one must reach dlopen unresolved
    target_link_options(${t} PRIVATE -Wl,--no-undefined -Wl,-z,defs)
  endif()
  set(TP_BAD_PLUGIN_TARGETS ${TP_BAD_PLUGIN_TARGETS} ${t} PARENT_SCOPE)
endfunction()

# Refused at load (test_loader.c lists the same names and what each says).
tp_loader_bad_plugin(bad_magic BAD_MAGIC=0xDEADBEEFu)
tp_loader_bad_plugin(bad_major_old BAD_MAJOR=0)
tp_loader_bad_plugin(bad_major_new "BAD_MAJOR=(TP_SDK_ABI_MAJOR+1)")
tp_loader_bad_plugin(bad_minor_new "BAD_MINOR=(TP_SDK_ABI_MINOR+1)")
tp_loader_bad_plugin(bad_size_short "BAD_SIZE=(TP_PLUGIN_DESC_SIZE_1_0-8)")
tp_loader_bad_plugin(bad_order "BAD_MAJOR=(TP_SDK_ABI_MAJOR+1)" BAD_SIZE=8 BAD_NO_FEED)
tp_loader_bad_plugin(bad_no_entry BAD_NO_ENTRY)
tp_loader_bad_plugin(bad_entry_null BAD_ENTRY_NULL)
tp_loader_bad_plugin(bad_no_feed BAD_NO_FEED)
tp_loader_bad_plugin(bad_no_name [[BAD_NAME=""]])
tp_loader_bad_plugin(bad_type [[BAD_TYPE="rd9999"]])
tp_loader_bad_plugin(bad_undefined BAD_UNDEFINED)
# Loads (an override, so it does not clash with "good"), but emits rows one
# field too long: the parse must fail.
tp_loader_bad_plugin(bad_fields [[BAD_NAME="bad_fields"]] [[BAD_BRANCH="BF"]] BAD_EXTRA_FIELD)
# Good ones, for loading, registry conflicts and resolution.
tp_loader_bad_plugin(good)
tp_loader_bad_plugin(good_twin [[BAD_NAME="good_twin"]])            # 2nd generic rd5900
tp_loader_bad_plugin(good_dupname [[BAD_BRANCH="BX"]])              # name "good" again
tp_loader_bad_plugin(good_override [[BAD_NAME="over"]] [[BAD_BRANCH="BX"]])
tp_loader_bad_plugin(good_other [[BAD_NAME="other"]] [[BAD_TYPE="rd1800"]])

# The SDK template, built in tree with the project's warnings (-Werror), into
# a directory of its own (it is an override for a fictional branch).
add_library(tp_loader_template MODULE ${PROJECT_SOURCE_DIR}/sdk/template/example_rd5900.c)
target_link_libraries(tp_loader_template PRIVATE tillpipe_sdk)
set_target_properties(tp_loader_template PROPERTIES PREFIX "" OUTPUT_NAME example_rd5900
                      LIBRARY_OUTPUT_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR}/plugins_template
                      C_VISIBILITY_PRESET hidden)
target_link_options(tp_loader_template PRIVATE -Wl,--no-undefined -Wl,-z,defs)

set(TP_LOADER_NM ${CMAKE_NM})
if(NOT TP_LOADER_NM)
  set(TP_LOADER_NM nm)
endif()

tp_add_check_test(test_loader test_loader.c)
target_compile_definitions(test_loader PRIVATE
  TP_TEST_BAD_DIR="${TP_BAD_PLUGIN_DIR}"
  TP_TEST_TEMPLATE_SO="$<TARGET_FILE:tp_loader_template>"
  TP_TEST_TEMPLATE_DIR="${PROJECT_SOURCE_DIR}/sdk/template"
  TP_TEST_NM="${TP_LOADER_NM}")
add_dependencies(test_loader ${TP_BAD_PLUGIN_TARGETS} tp_loader_template)

# The template as an integrator uses it: install the SDK into a temporary
# prefix, copy the installed template, build it out of tree against that
# prefix only, then `tillpipe plugin info` and `tillpipe parse` it and diff
# with the template's expected output.
add_test(NAME template_out_of_tree
  COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/test_template.sh
          ${CMAKE_COMMAND} ${PROJECT_BINARY_DIR} $<TARGET_FILE:tillpipe> ${TP_PLUGIN_OUT}
          ${CMAKE_C_COMPILER} ${TP_LOADER_NM})
set_tests_properties(template_out_of_tree PROPERTIES TIMEOUT 300)
