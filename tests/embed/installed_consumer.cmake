cmake_minimum_required(VERSION 3.21)
# CTest driver: installs baton from BUILD_DIR into WORK_DIR/prefix, then builds the example
# host against the installed copy only, and runs it.
#   MODE=cmake      a separate CMake project (CONSUMER_DIR) with find_package(baton CONFIG REQUIRED),
#                   plus a check that the version file refuses another major version;
#   MODE=pkgconfig  the C compiler with `pkg-config --cflags --libs baton`.
function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    string(REPLACE ";" " " cmd "${ARGN}")
    message(FATAL_ERROR "failed (${rc}): ${cmd}\n${out}\n${err}")
  endif()
  set(run_out "${out}" PARENT_SCOPE)
endfunction()

set(prefix ${WORK_DIR}/prefix)
# A sanitized libbaton needs its runtime first in the program: build the consumers the same way.
set(san_flags)
if(SANITIZE)
  set(san_flags -fsanitize=${SANITIZE} -fno-omit-frame-pointer)
endif()
file(REMOVE_RECURSE ${WORK_DIR})
run(${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix})
foreach(f include/baton/baton.h include/baton/baton_loader.h include/baton/baton.hpp
          ${LIBDIR}/libbaton.so.${VERSION} ${LIBDIR}/cmake/baton/batonConfig.cmake
          ${LIBDIR}/cmake/baton/batonConfigVersion.cmake ${LIBDIR}/cmake/baton/batonTargets.cmake
          ${LIBDIR}/pkgconfig/baton.pc)
  if(NOT EXISTS ${prefix}/${f})
    message(FATAL_ERROR "cmake --install did not install ${f}")
  endif()
endforeach()
string(REGEX MATCH "^[0-9]+" major "${VERSION}")
if(NOT EXISTS ${prefix}/${LIBDIR}/libbaton.so.${major} OR NOT EXISTS ${prefix}/${LIBDIR}/libbaton.so)
  message(FATAL_ERROR "the SONAME link libbaton.so.${major} or the development link libbaton.so is missing")
endif()

if(MODE STREQUAL "cmake")
  set(common -G ${GENERATOR} -DCMAKE_C_COMPILER=${C_COMPILER} -DCMAKE_CXX_COMPILER=${CXX_COMPILER}
      -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF -DEXPECTED_PREFIX=${prefix}
      -DHOST_EXAMPLE=${HOST_EXAMPLE})
  if(SANITIZE)
    string(JOIN " " san_string ${san_flags})
    list(APPEND common "-DCMAKE_C_FLAGS=${san_string}" "-DCMAKE_CXX_FLAGS=${san_string}"
                       "-DCMAKE_EXE_LINKER_FLAGS=-fsanitize=${SANITIZE}")
  endif()
  run(${CMAKE_COMMAND} -S ${CONSUMER_DIR} -B ${WORK_DIR}/consumer ${common})
  run(${CMAKE_COMMAND} --build ${WORK_DIR}/consumer)
  run(${WORK_DIR}/consumer/host_example)
  message(STATUS "${run_out}")
  set(host_out "${run_out}")
  run(${WORK_DIR}/consumer/cpp_consumer)
  message(STATUS "${run_out}")
  # The version file: the next major version must not be found.
  math(EXPR next "${major} + 1")
  execute_process(COMMAND ${CMAKE_COMMAND} -S ${CONSUMER_DIR} -B ${WORK_DIR}/consumer-v${next} ${common}
                          -DREQUIRE_VERSION=${next}.0
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(rc EQUAL 0 OR NOT err MATCHES "version")
    message(FATAL_ERROR "find_package(baton ${next}.0 CONFIG REQUIRED) did not refuse baton ${VERSION}:\n${out}${err}")
  endif()
elseif(MODE STREQUAL "pkgconfig")
  find_program(PKG_CONFIG pkg-config REQUIRED)
  set(env ${CMAKE_COMMAND} -E env PKG_CONFIG_PATH=${prefix}/${LIBDIR}/pkgconfig)
  run(${env} ${PKG_CONFIG} --modversion baton)
  string(STRIP "${run_out}" pcversion)
  if(NOT pcversion STREQUAL VERSION)
    message(FATAL_ERROR "pkg-config says baton ${pcversion}, the build is ${VERSION}")
  endif()
  run(${env} ${PKG_CONFIG} --cflags --libs baton vulkan)
  string(STRIP "${run_out}" flags)
  separate_arguments(flags UNIX_COMMAND "${flags}")
  run(${env} ${PKG_CONFIG} --variable=includedir baton)
  string(STRIP "${run_out}" includedir)
  get_filename_component(includedir "${includedir}" REALPATH)
  get_filename_component(expected "${prefix}/include" REALPATH)
  if(NOT includedir STREQUAL expected)
    message(FATAL_ERROR "baton.pc's includedir is ${includedir}, not the install prefix's ${expected}")
  endif()
  run(${C_COMPILER} -std=c99 -Wall -Wextra -Werror ${san_flags} ${HOST_EXAMPLE} -o ${WORK_DIR}/host_example ${flags}
      -Wl,-rpath,${prefix}/${LIBDIR} -lpthread -ldl)
  run(${WORK_DIR}/host_example)
  message(STATUS "${run_out}")
  set(host_out "${run_out}")
else()
  message(FATAL_ERROR "MODE must be cmake or pkgconfig")
endif()

# The host really ran against the installed library, not the build tree's.
if(NOT host_out MATCHES "baton loaded from ${prefix}/")
  message(FATAL_ERROR "the example host did not load the installed libbaton:\n${host_out}")
endif()
if(NOT host_out MATCHES "host_example: ok")
  message(FATAL_ERROR "the example host did not finish:\n${host_out}")
endif()
