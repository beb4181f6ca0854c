# `tillpipe worker` as processes against a real PostgreSQL the test binary
# starts itself (tests/pg/pgctl.sh): end to end, kill -9 mid-job and inside
# the load transaction, server restart, pg_terminate_backend, poison jobs,
# SIGTERM drain, cancel, an unreachable database.  Every case has a database
# of its own.
tp_add_check_test(test_worker ${CMAKE_CURRENT_LIST_DIR}/test_worker.c ${CMAKE_CURRENT_LIST_DIR}/pgcase.c)
set_tests_properties(test_worker PROPERTIES TIMEOUT 900
                     ENVIRONMENT "CK_DEFAULT_TIMEOUT=180")
