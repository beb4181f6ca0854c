# The report server client and the fetch stage against the simulator
# (tests/reportsim) over loopback HTTP: faults, retries, caps, limits, archives.
tp_add_check_test(test_fetch ${CMAKE_CURRENT_LIST_DIR}/test_fetch.c)
add_dependencies(test_fetch tillpipe-reportsim)
