# Archives (libarchive): extraction, unsafe archives, bombs, folder scans.
tp_add_check_test(test_unpack ${CMAKE_CURRENT_LIST_DIR}/test_unpack.c)
