"""Fuzz the rule loader: any bytes give a program or a RuleFileError, nothing else.

Every input is read as text (undecodable bytes replaced) with the default YAML parser. Some
inputs are also read with the pure-Python parser, and the two must agree on whether the text
is a program and, if so, which one; some as a file, which is how the CLI reads them (always
when the bytes are not plain UTF-8: a BOM, invalid bytes); and a few as text holding lone
surrogates, as ``errors="surrogateescape"`` makes them.

    python fuzz/fuzz_rule_loader.py -max_total_time=300
    python fuzz/fuzz_rule_loader.py --replay
"""

from __future__ import annotations

import zlib

from _fuzzing import ScratchFile, check_error, instrumented, is_utf8, main, require

with instrumented(__name__):
    from rewardrules.errors import RuleFileError
    from rewardrules.rulefiles.loader import load_program_file, load_program_text
    from rewardrules.program.model import Program

TARGET = "rules"
_SCRATCH = ScratchFile("program.yaml")


def _load(read: object, *arguments: object, **options: object) -> Program | None:
    """The program, or None for a RuleFileError (checked); any other error escapes."""
    try:
        return read(*arguments, **options)  # type: ignore[operator, no-any-return]
    except RuleFileError as error:
        check_error(error)
        return None


def TestOneInput(data: bytes) -> None:  # noqa: N802  # the name atheris and libFuzzer use
    """Read the bytes as a rule file in each of the ways a caller can."""
    text = data.decode("utf-8", errors="replace")
    program = _load(load_program_text, text)
    choice = zlib.crc32(data)
    if choice % 4 == 0:
        pure = _load(load_program_text, text, _parser="pure")
        require((pure is None) == (program is None), "the C and pure parsers disagree")
        require(pure == program, "the C and pure parsers read different programs")
    if not is_utf8(data) or choice % 8 == 1:
        _load(load_program_file, _SCRATCH.write(data))
    if choice % 16 == 2:
        _load(load_program_text, data.decode("utf-8", errors="surrogateescape"))


if __name__ == "__main__":
    main(TARGET, TestOneInput)
