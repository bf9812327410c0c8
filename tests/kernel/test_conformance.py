"""The Jupyter project's kernel conformance suite (jupyter_kernel_test) on enclave.

Every case the library offers is filled in; msgspec validation is on in the
library for every message it reads.
"""
import unittest

import kernelspec_env  # noqa: F401  (installs the kernelspec, sets JUPYTER_PATH)
import jupyter_kernel_test as jkt


class EnclaveKernelTests(jkt.KernelTests):
    kernel_name = kernelspec_env.KERNEL_NAME
    language_name = "go"
    file_extension = ".go"

    code_hello_world = 'import "fmt"\nfmt.Println("hello, world")'
    code_stderr = 'println("to stderr")'

    completion_samples = [
        {"text": "fmt.Pri", "matches": {"Print", "Printf", "Println"}},
        {"text": "strings.ToUpp", "matches": {"ToUpper", "ToUpperSpecial"}},
    ]
    complete_code_samples = ["x := 1", "fmt.Println(1)", "func f() int {\n\treturn 1\n}", "%workspace"]
    incomplete_code_samples = ["func f() int {", "for i := 0; i < 3; i++ {", "x := []int{1,"]
    invalid_code_samples = ["x := )", "func ) {"]

    code_inspect_sample = "fmt.Println"
    code_page_something = "fmt.Println?"

    code_generate_error = 'panic("boom")'

    code_execute_result = [
        {"code": "6 * 7", "result": "42"},
        {"code": "y := 40\ny + 2", "result": "42"},
        {"code": "1 + 2", "result": "3"},
    ]
    code_history_pattern = "6 ?*"
    supported_history_operations = ("tail", "range", "search")

    code_display_data = [
        {"code": 'import "enclave/display"\ndisplay.HTML("<b>bold</b>")', "mime": "text/html"},
        {"code": 'import "enclave/display"\ndisplay.Markdown("# title")', "mime": "text/markdown"},
        {"code": 'import "enclave/display"\ndisplay.SVG(`<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"></svg>`)', "mime": "image/svg+xml"},
        {"code": 'import "enclave/display"\ndisplay.JSON(map[string]int{"a": 1})', "mime": "application/json"},
    ]

    code_clear_output = 'import "enclave/display"\ndisplay.Clear(false)'


if __name__ == "__main__":
    unittest.main()
