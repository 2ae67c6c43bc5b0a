cmake_minimum_required(VERSION 3.21)
# CTest driver: installs baton from BUILD_DIR into WORK_DIR/prefix, builds the example engine
# (tests/profiler/imgui_host, a project of its own) against the installed baton::imgui only,
# runs it, and checks it wrote its PNG.
function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    string(REPLACE ";" " " cmd "${ARGN}")
    message(FATAL_ERROR "failed (${rc}): ${cmd}\n${out}\n${err}")
  endif()
  set(run_out "${out}" PARENT_SCOPE)
endfunction()

set(prefix ${WORK_DIR}/prefix)
file(REMOVE_RECURSE ${WORK_DIR})
run(${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix})
foreach(f include/baton/baton_imgui.h ${LIBDIR}/libbaton_imgui.a ${LIBDIR}/cmake/baton/batonImguiTargets.cmake)
  if(NOT EXISTS ${prefix}/${f})
    message(FATAL_ERROR "cmake --install did not install ${f}")
  endif()
endforeach()
run(${CMAKE_COMMAND} -S ${HOST_DIR} -B ${WORK_DIR}/host -G ${GENERATOR} -DCMAKE_CXX_COMPILER=${CXX_COMPILER}
    -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF)
run(${CMAKE_COMMAND} --build ${WORK_DIR}/host)
run(${WORK_DIR}/host/imgui_host --out ${WORK_DIR} --frames 60 --size 800x480)
message(STATUS "${run_out}")
if(NOT EXISTS ${WORK_DIR}/profiler.png)
  message(FATAL_ERROR "the installed example host wrote no profiler.png")
endif()
