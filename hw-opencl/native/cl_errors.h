#pragma once

namespace vta_ocl {

/** The symbolic name of an OpenCL status code, e.g. "CL_OUT_OF_RESOURCES"; "CL_UNKNOWN_ERROR" otherwise. */
const char* clErrorName(int code);

}  // namespace vta_ocl
