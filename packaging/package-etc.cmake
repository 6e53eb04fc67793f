# CPACK_PRE_BUILD_SCRIPTS: what only the Debian package carries, added to CPack's staging tree
# after the install step: /etc/fleet-dispatch (a plain `cmake --install` never writes /etc), the
# secrets directory root's 0700, logrotate's file, /var/lib and /var/log directories.
set(stage "${CPACK_TEMPORARY_INSTALL_DIRECTORY}")
set(source "${FLEET_SOURCE_DIR}/deploy")
file(MAKE_DIRECTORY "${stage}/etc/fleet-dispatch/secrets")
file(CHMOD "${stage}/etc/fleet-dispatch" DIRECTORY_PERMISSIONS
     OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)
file(CHMOD "${stage}/etc/fleet-dispatch/secrets" DIRECTORY_PERMISSIONS
     OWNER_READ OWNER_WRITE OWNER_EXECUTE)
set(public_dir OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE WORLD_READ
    WORLD_EXECUTE)
set(public_file OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
# config.toml is the one conffile of the configuration: set-up tools write config.d/ drop-ins,
# and the policies helper.toml and diag.toml are theirs to write (from the examples in
# /usr/share/fleet-dispatch/etc), so no upgrade stops at dpkg's question.
file(MAKE_DIRECTORY "${stage}/etc/fleet-dispatch/config.d")
file(CHMOD "${stage}/etc/fleet-dispatch/config.d" DIRECTORY_PERMISSIONS ${public_dir})
file(COPY_FILE "${source}/etc/config.toml" "${stage}/etc/fleet-dispatch/config.toml")
file(CHMOD "${stage}/etc/fleet-dispatch/config.toml" PERMISSIONS ${public_file})
file(MAKE_DIRECTORY "${stage}/etc/logrotate.d")
file(COPY_FILE "${source}/logrotate/fleet-dispatch" "${stage}/etc/logrotate.d/fleet-dispatch")
file(CHMOD "${stage}/etc/logrotate.d/fleet-dispatch" PERMISSIONS ${public_file})
# State and logs are the package's, so that dpkg knows them (purge removes them: postrm).
foreach(dir var/lib/fleet-dispatch var/log/fleet-dispatch)
  file(MAKE_DIRECTORY "${stage}/${dir}")
  file(CHMOD "${stage}/${dir}" DIRECTORY_PERMISSIONS ${public_dir})
endforeach()
