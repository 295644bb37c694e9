# Builds tests/consumer against subgrad (MODE: find_package after an install, or
# add_subdirectory) in WORK_DIR and runs it; any failing step fails the test.
file(REMOVE_RECURSE ${WORK_DIR})
function(run)
  execute_process(COMMAND ${ARGV} RESULT_VARIABLE result)
  if(NOT result EQUAL 0)
    message(FATAL_ERROR "consumer test: step failed (${result}): ${ARGV}")
  endif()
endfunction()
set(consumer_source ${SOURCE_DIR}/tests/consumer)
if(MODE STREQUAL "find_package")
  run(${CMAKE_COMMAND} -S ${SOURCE_DIR} -B ${WORK_DIR}/subgrad -G ${GENERATOR} -DCMAKE_BUILD_TYPE=Release
      -DSUBGRAD_BUILD_TESTS=OFF -DSUBGRAD_BUILD_EXAMPLES=OFF -DSUBGRAD_BUILD_BENCHMARKS=OFF
      -DCMAKE_INSTALL_PREFIX=${WORK_DIR}/prefix)
  run(${CMAKE_COMMAND} --build ${WORK_DIR}/subgrad)
  run(${CMAKE_COMMAND} --install ${WORK_DIR}/subgrad)
  run(${CMAKE_COMMAND} -S ${consumer_source} -B ${WORK_DIR}/consumer -G ${GENERATOR}
      -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix)
else()
  run(${CMAKE_COMMAND} -S ${consumer_source} -B ${WORK_DIR}/consumer -G ${GENERATOR}
      -DCMAKE_BUILD_TYPE=Release -DSUBGRAD_CONSUMER_MODE=add_subdirectory
      -DSUBGRAD_SOURCE_DIR=${SOURCE_DIR})
endif()
run(${CMAKE_COMMAND} --build ${WORK_DIR}/consumer)
run(${WORK_DIR}/consumer/consumer)
