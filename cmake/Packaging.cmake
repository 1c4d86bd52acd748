# Debian packages: taskengine-server and taskengine-worker, one CPack DEB component each.
# Build them with `cpack -G DEB` in a build folder (scripts/test-packages does, and checks
# them). Included by the top-level CMakeLists.txt for the full (Linux) build only.
#
# Layout of an installed package:
#   /usr/bin/taskengine-{server,worker}
#   /etc/taskengine/{server,worker}.yaml, /etc/taskengine/workflows/  (conffiles)
#   /usr/share/taskengine/workflows/bin/  (the example workflows' helper programs)
#   /lib/systemd/system/taskengine-*.service                         (from installer/systemd/)
#   /var/lib/taskengine, owned by the system user `taskengine`        (made by postinst)

include(GNUInstallDirs)

set(_pkg_dir ${PROJECT_SOURCE_DIR}/installer/debian)
set(_config_dir ${PROJECT_SOURCE_DIR}/config)
set(_units_dir ${PROJECT_SOURCE_DIR}/installer/systemd)

# The programs themselves are installed by server/ and worker/ under these components.

# The repo's configs use paths relative to the checkout (scripts/start); the packaged copies
# point at where the package puts things instead. Only those lines change.
function(_taskengine_packaged_config name out_var)
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${_config_dir}/${name})
  file(READ ${_config_dir}/${name} _text)
  string(REGEX REPLACE "(\n|^)workflows:[^\n]*" "\\1workflows: /etc/taskengine/workflows" _text "${_text}")
  string(REGEX REPLACE "(\n[ \t]+WORKFLOW_BIN:)[^\n]*" "\\1 /usr/share/taskengine/workflows/bin" _text "${_text}")
  file(WRITE ${PROJECT_BINARY_DIR}/debian/etc/${name} "${_text}")
  set(${out_var} ${PROJECT_BINARY_DIR}/debian/etc/${name} PARENT_SCOPE)
endfunction()

# Paths are absolute on purpose: /etc and /lib/systemd are not under the /usr prefix.
if(EXISTS ${_config_dir}/server.yaml)
  _taskengine_packaged_config(server.yaml _server_yaml)
  install(FILES ${_server_yaml} DESTINATION /etc/taskengine COMPONENT server)
endif()
if(EXISTS ${_config_dir}/workflows)
  install(DIRECTORY ${_config_dir}/workflows/ DESTINATION /etc/taskengine/workflows
          COMPONENT server FILES_MATCHING PATTERN "*.yaml" PATTERN "bin" EXCLUDE)
endif()
# The workflows' helper programs run on the workers.
if(EXISTS ${_config_dir}/workflows/bin)
  install(DIRECTORY ${_config_dir}/workflows/bin/ DESTINATION share/taskengine/workflows/bin
          COMPONENT worker USE_SOURCE_PERMISSIONS)
endif()
if(EXISTS ${_config_dir}/worker.yaml)
  _taskengine_packaged_config(worker.yaml _worker_yaml)
  install(FILES ${_worker_yaml} DESTINATION /etc/taskengine COMPONENT worker)
endif()
file(GLOB _server_units CONFIGURE_DEPENDS ${_units_dir}/taskengine-server*.service)
file(GLOB _worker_units CONFIGURE_DEPENDS ${_units_dir}/taskengine-worker*.service)
if(_server_units)
  install(FILES ${_server_units} DESTINATION /lib/systemd/system COMPONENT server)
endif()
if(_worker_units)
  install(FILES ${_worker_units} DESTINATION /lib/systemd/system COMPONENT worker)
endif()

# Maintainer scripts and conffiles, per package. The scripts are templates so each package
# names its own units; conffiles list what dpkg must not overwrite when the admin edited it.
function(_taskengine_control component units conffiles)
  set(_out ${PROJECT_BINARY_DIR}/debian/${component})
  set(TASKENGINE_UNITS "")
  foreach(u IN LISTS units)
    get_filename_component(_name ${u} NAME)
    string(APPEND TASKENGINE_UNITS " ${_name}")
  endforeach()
  string(STRIP "${TASKENGINE_UNITS}" TASKENGINE_UNITS)
  foreach(script postinst prerm postrm)
    configure_file(${_pkg_dir}/${script}.in ${_out}/${script} @ONLY FILE_PERMISSIONS
                   OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)
  endforeach()
  list(JOIN conffiles "\n" _lines)
  file(WRITE ${_out}/conffiles "${_lines}\n")
  string(TOUPPER ${component} _C)
  set(CPACK_DEBIAN_${_C}_PACKAGE_CONTROL_EXTRA
      "${_out}/postinst;${_out}/prerm;${_out}/postrm;${_out}/conffiles" PARENT_SCOPE)
endfunction()

set(_server_conffiles "")
if(EXISTS ${_config_dir}/server.yaml)
  list(APPEND _server_conffiles /etc/taskengine/server.yaml)
endif()
file(GLOB _workflow_files CONFIGURE_DEPENDS RELATIVE ${_config_dir}/workflows ${_config_dir}/workflows/*.yaml)
foreach(f IN LISTS _workflow_files)
  list(APPEND _server_conffiles /etc/taskengine/workflows/${f})
endforeach()
set(_worker_conffiles "")
if(EXISTS ${_config_dir}/worker.yaml)
  list(APPEND _worker_conffiles /etc/taskengine/worker.yaml)
endif()
_taskengine_control(server "${_server_units}" "${_server_conffiles}")
_taskengine_control(worker "${_worker_units}" "${_worker_conffiles}")

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME taskengine)
set(CPACK_PACKAGE_VENDOR "Task Engine")
set(CPACK_PACKAGE_CONTACT "Task Engine maintainers <taskengine@localhost>")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "Job engine: REST server and ZeroMQ workers")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
# Only the two packages; "Unspecified" (the duplicate install rules above) is left out.
set(CPACK_COMPONENTS_ALL server worker)

set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_SECTION misc)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_SERVER_PACKAGE_NAME taskengine-server)
set(CPACK_DEBIAN_WORKER_PACKAGE_NAME taskengine-worker)
# adduser for the postinst; systemd units are optional to use, so systemd is not required.
set(CPACK_DEBIAN_SERVER_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_WORKER_PACKAGE_DEPENDS "adduser")
# The example workflows' helper programs are Python; their media steps run ffmpeg.
set(CPACK_DEBIAN_WORKER_PACKAGE_RECOMMENDS "python3, ffmpeg")
set(CPACK_COMPONENT_SERVER_DESCRIPTION
    "Task Engine server\n REST API, scheduler, ZeroMQ dispatcher and callback sender.")
set(CPACK_COMPONENT_WORKER_DESCRIPTION
    "Task Engine worker\n Runs the tasks the server dispatches over ZeroMQ.")

include(CPack)
