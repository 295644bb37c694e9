# Runs relu_gallery into the build tree and fails when the committed docs differ from what the
# registry's rules generate (docs/relu-family.md, and the generated table of docs/conventions.md).
#   cmake -DGALLERY=... -DSOURCE_DOCS=... -DOUT=... -P docs_are_generated.cmake
execute_process(COMMAND ${GALLERY} --out ${OUT} --docs ${SOURCE_DOCS} RESULT_VARIABLE failed)
if(failed)
  message(FATAL_ERROR "relu_gallery failed (${failed})")
endif()
foreach(file relu-family.md conventions.md)
  execute_process(COMMAND ${CMAKE_COMMAND} -E compare_files ${SOURCE_DOCS}/${file} ${OUT}/${file}
                  RESULT_VARIABLE differs)
  if(differs)
    message(FATAL_ERROR "docs/${file} differs from what the rules generate (${OUT}/${file}): "
                        "run examples/relu_gallery from the repository root and commit docs/")
  endif()
endforeach()
message(STATUS "docs/relu-family.md and docs/conventions.md match the rules")
