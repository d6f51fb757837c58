"""`.local/stack.env`: what `source` reads, owner-only, removed only by the stack that wrote it."""

from __future__ import annotations

import stat
import subprocess

from infra import stack_env


def test_sourcing_it_sets_the_walks_variables_even_for_an_odd_key(tmp_path):
    path = tmp_path / ".local" / "stack.env"
    text = stack_env.render(8123, 5123, "k'ey $(touch pwned) with spaces")
    stack_env.write(path, text)
    out = subprocess.run(["bash", "-c", f'source "{path}" && printf "%s|%s|%s" "$API" '
                          '"$ADMIN" "$MOTO"'], capture_output=True, text=True, check=True,
                         cwd=tmp_path)
    assert out.stdout == ("http://127.0.0.1:8123|k'ey $(touch pwned) with spaces|"
                          "http://127.0.0.1:5123")
    assert not (tmp_path / "pwned").exists()


def test_it_is_owner_only_even_over_an_older_world_readable_file(tmp_path):
    path = tmp_path / "stack.env"
    path.write_text("old")
    path.chmod(0o644)
    stack_env.write(path, stack_env.render(1, 2, "secret"))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_stack_removes_its_own_file_but_not_a_newer_stacks(tmp_path):
    path = tmp_path / "stack.env"
    mine = stack_env.render(1, 2, "a")
    stack_env.write(path, mine)
    stack_env.remove(path, mine)
    assert not path.exists()
    stack_env.write(path, stack_env.render(3, 4, "b"))
    stack_env.remove(path, mine)
    assert path.exists()
    stack_env.remove(tmp_path / "missing.env", mine)  # gone already: no error
