# QR_CHECK_LIB(VAR, HEADER, LIB, FUNCTION, DEBIAN-PACKAGE)
# -------------------------------------------------------
# For libraries that ship no pkg-config file (libev, libzookeeper_st).
# Checks HEADER, then searches FUNCTION in LIB with LIBS saved and emptied,
# and AC_SUBSTs VAR_LIBS so each target links only what it names.
# Stops configure with a message naming the Debian package when absent.
AC_DEFUN([QR_CHECK_LIB], [
    AC_CHECK_HEADER([$2], [],
        [AC_MSG_ERROR([$2 not found: apt-get install $5])])
    qr_save_LIBS=$LIBS
    LIBS=
    AC_SEARCH_LIBS([$4], [$3], [],
        [AC_MSG_ERROR([lib$3 not found: apt-get install $5])])
    $1_LIBS=$LIBS
    LIBS=$qr_save_LIBS
    AC_SUBST([$1_LIBS])
])
