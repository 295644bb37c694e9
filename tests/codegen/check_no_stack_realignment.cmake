# Compiles SOURCE to assembly with COMPILER and the flags in FLAGS (a ;-list) and fails if any
# function in it realigns the stack (`and $-32, %rsp`): g++ does that in a function holding a
# 256-bit value, and the function then gives up a register to the frame pointer.
execute_process(
  COMMAND ${COMPILER} ${FLAGS} -S -o ${OUTPUT} ${SOURCE}
  RESULT_VARIABLE status
  ERROR_VARIABLE errors)
if(NOT status EQUAL 0)
  message(FATAL_ERROR "compiling ${SOURCE} failed:\n${errors}")
endif()
file(READ ${OUTPUT} assembly)
string(REGEX MATCH "and[q]?[ \t]+\\$-32, %rsp" realignment "${assembly}")
if(realignment)
  message(FATAL_ERROR "${SOURCE} compiled with ${FLAGS}: a function realigns its stack "
                      "(${realignment}), see ${OUTPUT}")
endif()
message(STATUS "${SOURCE}: no stack realignment with ${FLAGS}")
