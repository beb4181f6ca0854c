# The HTTP API over real HTTP against `tillpipe serve`, PostgreSQL and the
# simulator; routes against docs/openapi.yaml.
tp_add_check_test(test_api ${CMAKE_CURRENT_LIST_DIR}/test_api.c ${CMAKE_CURRENT_LIST_DIR}/pgcase.c)
target_link_libraries(test_api PRIVATE PkgConfig::JWT)
add_dependencies(test_api tillpipe-reportsim)
set_tests_properties(test_api PROPERTIES TIMEOUT 600 ENVIRONMENT "CK_DEFAULT_TIMEOUT=120")
