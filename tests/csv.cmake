# The SDK's CSV reader (unit and chunking property tests) and the bundled
# plugins run over the data-driven cases in cases/<plugin>/<case>/.
tp_add_check_test(test_csv ${CMAKE_CURRENT_LIST_DIR}/test_csv.c)
tp_add_check_test(test_plugins ${CMAKE_CURRENT_LIST_DIR}/test_plugins.c)
