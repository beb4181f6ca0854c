tp_add_check_test(test_engine test_engine.c testutil.c)
tp_add_check_test(test_run test_run.c testutil.c)
