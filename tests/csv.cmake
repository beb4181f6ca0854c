# The SDK's CSV reader (unit and chunking property tests) and the bundled
# plugins run over the data-driven cases in cases/<plugin>/<case>/.
tp_add_check_test(test_csv ${CMAKE_CURRENT_LIST_DIR}/test_csv.c)
tp_add_check_test(test_plugins ${CMAKE_CURRENT_LIST_DIR}/test_plugins.c)

# tests/plugins_bad/layout_limits.c, compiled once per variant into a
# directory of its own: layouts at and past the limits of <tillpipe/layout.h>,
# which open must accept or refuse (test_plugins.c).
set(TP_LAYOUT_PLUGIN_DIR ${CMAKE_CURRENT_BINARY_DIR}/plugins_layout)
set(TP_LAYOUT_PLUGIN_TARGETS "")
function(tp_layout_plugin name)
  set(t tp_layout_${name})
  add_library(${t} MODULE ${CMAKE_CURRENT_SOURCE_DIR}/plugins_bad/layout_limits.c)
  target_link_libraries(${t} PRIVATE tillpipe_sdk)
  target_compile_definitions(${t} PRIVATE ${ARGN})
  set_target_properties(${t} PROPERTIES PREFIX "" OUTPUT_NAME ${name}
                        LIBRARY_OUTPUT_DIRECTORY ${TP_LAYOUT_PLUGIN_DIR}
                        C_VISIBILITY_PRESET hidden)
  target_link_options(${t} PRIVATE -Wl,--no-undefined -Wl,-z,defs)
  set(TP_LAYOUT_PLUGIN_TARGETS ${TP_LAYOUT_PLUGIN_TARGETS} ${t} PARENT_SCOPE)
endfunction()

tp_layout_plugin(wide32 WIDE=32)
tp_layout_plugin(wide33 WIDE=33)
tp_layout_plugin(far CODE_COL=4095 NO_HEADER)
tp_layout_plugin(beyond CODE_COL=4096)
tp_layout_plugin(negative CODE_COL=-1)
tp_layout_plugin(alt_negative NAME_ALT=-1)
tp_layout_plugin(gap GAP)
tp_layout_plugin(semicolon DELIM=59)     # ';'
tp_layout_plugin(quote_delim DELIM=34)   # '"'
tp_layout_plugin(no_header NO_HEADER)
tp_layout_plugin(bad_flags "FLAGS=(1u << 7)")
tp_layout_plugin(long_name LONG_NAME)
tp_layout_plugin(required "FLAGS=TPP_REQUIRED|TPP_UNGUARD" NAME_ALT=3)

target_compile_definitions(test_plugins PRIVATE TP_TEST_LAYOUT_DIR="${TP_LAYOUT_PLUGIN_DIR}")
add_dependencies(test_plugins ${TP_LAYOUT_PLUGIN_TARGETS})
