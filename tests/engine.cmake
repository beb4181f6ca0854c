tp_add_check_test(test_engine test_engine.c)
tp_add_check_test(test_run test_run.c)
tp_add_check_test(test_gen test_gen.c)
target_link_libraries(test_gen PRIVATE tillpipe_gen)
set_tests_properties(test_gen PROPERTIES ENVIRONMENT
                     "CK_DEFAULT_TIMEOUT=120;TP_SAMPLES_DIR=${TP_SHARED_SAMPLES_DIR}")
