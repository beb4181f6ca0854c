# The job queue and migrations through the library API, against a real
# PostgreSQL the test binary starts itself (tests/pg/pgctl.sh); every case
# works in a database of its own.
tp_add_check_test(test_queue ${CMAKE_CURRENT_LIST_DIR}/test_queue.c)
