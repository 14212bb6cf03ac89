# InstallUnit.cmake - run by "cmake --install": writes nsmilter.service with
# ExecStart pointing at the program where this installation puts it (the
# prefix is only known now: cmake --install --prefix may change it) and
# installs it, with the tmpfiles entry.
#
# In: NSMILTER_UNIT_IN, NSMILTER_TMPFILES, NSMILTER_UNIT_OUT (a scratch
# file), NSMILTER_SBINDIR_REL (sbin or an absolute path) and
# NSMILTER_SYSTEMD_UNITDIR (empty: /lib/systemd/system for the /usr
# prefix, where Debian's debhelper looks; PREFIX/lib/systemd/system
# otherwise, which systemd searches as well).
if(IS_ABSOLUTE "${NSMILTER_SBINDIR_REL}")
  set(NSMILTER_SBINDIR "${NSMILTER_SBINDIR_REL}")
else()
  set(NSMILTER_SBINDIR "${CMAKE_INSTALL_PREFIX}/${NSMILTER_SBINDIR_REL}")
endif()
set(unitdir "${NSMILTER_SYSTEMD_UNITDIR}")
if(unitdir STREQUAL "")
  if(CMAKE_INSTALL_PREFIX STREQUAL "/usr")
    set(unitdir /lib/systemd/system)
  else()
    set(unitdir "${CMAKE_INSTALL_PREFIX}/lib/systemd/system")
  endif()
endif()
configure_file("${NSMILTER_UNIT_IN}" "${NSMILTER_UNIT_OUT}" @ONLY)
file(INSTALL "${NSMILTER_UNIT_OUT}" DESTINATION "${unitdir}"
     FILE_PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
file(INSTALL "${NSMILTER_TMPFILES}"
     DESTINATION "${CMAKE_INSTALL_PREFIX}/lib/tmpfiles.d"
     RENAME nsmilter.conf
     FILE_PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
