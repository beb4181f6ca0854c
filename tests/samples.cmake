# The project's samples (samples/): every case's records and report exactly as
# expected, the sample branch configuration, the generated case and the archives.
tp_add_check_test(test_samples ${CMAKE_CURRENT_LIST_DIR}/test_samples.c)
# Legacy parity on the chain's own reports outside the repository; when they are
# not there it prints "parity: skipped: ..." and CTest lists it as skipped.
tp_add_check_test(test_parity ${CMAKE_CURRENT_LIST_DIR}/test_parity.c)
target_compile_definitions(test_parity PRIVATE
                           TP_TEST_SHARED_SAMPLES_DIR="${TP_SHARED_SAMPLES_DIR}")
set_tests_properties(test_parity PROPERTIES SKIP_REGULAR_EXPRESSION "^parity: skipped: ")
