# Whole jobs over the network: workers fetching from the simulator into the
# fs and S3 (s3rver) stores and a real PostgreSQL; faults, a full disk, an S3
# outage, reparse from stored raw files.
tp_add_check_test(test_fetchjobs ${CMAKE_CURRENT_LIST_DIR}/test_fetchjobs.c
                  ${CMAKE_CURRENT_LIST_DIR}/pgcase.c)
add_dependencies(test_fetchjobs tillpipe-reportsim)
set_tests_properties(test_fetchjobs PROPERTIES TIMEOUT 900 ENVIRONMENT "CK_DEFAULT_TIMEOUT=180")
