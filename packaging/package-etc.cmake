# CPACK_PRE_BUILD_SCRIPTS: what only the Debian package carries, added to CPack's staging tree
# after the install step. The example configs become conffiles under /etc/fleet-dispatch (a
# plain `cmake --install` never writes /etc: fleet-dispatch-setup writes the config when there is
# none), the secrets directory is root's 0700, and Debian's changelog.gz is generated.
set(stage "${CPACK_TEMPORARY_INSTALL_DIRECTORY}")
set(source "${FLEET_SOURCE_DIR}/deploy")
file(MAKE_DIRECTORY "${stage}/etc/fleet-dispatch/secrets")
file(CHMOD "${stage}/etc/fleet-dispatch" DIRECTORY_PERMISSIONS
     OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)
file(CHMOD "${stage}/etc/fleet-dispatch/secrets" DIRECTORY_PERMISSIONS
     OWNER_READ OWNER_WRITE OWNER_EXECUTE)
foreach(name config helper diag)
  file(COPY_FILE "${source}/etc/${name}.toml" "${stage}/etc/fleet-dispatch/${name}.toml")
  file(CHMOD "${stage}/etc/fleet-dispatch/${name}.toml" PERMISSIONS
       OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
endforeach()
