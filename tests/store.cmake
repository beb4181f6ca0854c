# The raw-file store (store.h): the same cases against the fs backend and
# against a real s3rver the test binary starts itself (tests/s3/s3ctl.sh,
# Node.js; the npm packages are cached between runs), plus the s3 backend's
# failures: closed port, server gone, frozen server, refused credentials.
tp_add_check_test(test_store ${CMAKE_CURRENT_LIST_DIR}/test_store.c)
set_tests_properties(test_store PROPERTIES TIMEOUT 600)
