"""Resume tokens and the room board: bounded, in memory, and each participant's own."""

from core.workshop.board import BoardEntry, RoomBoard, clean_nickname, password_ok
from core.workshop.resume import ResumeStore, browser_binding, looks_like_token, new_token


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_token_restores_only_in_the_browser_that_saved_it():
    store = ResumeStore()
    mine, theirs = new_token(), new_token()
    store.save(mine, "browser-a", {"runs": 3})
    store.save(theirs, "browser-b", {"runs": 1})
    assert store.restore(mine, "browser-a") == {"runs": 3}
    assert store.restore(mine, "browser-b") is None  # another participant pasted my link
    assert store.restore(theirs, "browser-a") is None
    assert store.restore(new_token(), "browser-a") is None  # a guess


def test_tokens_are_unguessable_and_urls_are_hostile_input():
    tokens = {new_token() for _ in range(200)}
    assert len(tokens) == 200 and all(looks_like_token(t) for t in tokens)
    assert min(len(t) for t in tokens) >= 43  # 256 bits
    store = ResumeStore()
    for value in (None, "", "x", "../../etc", "a" * 10_000, "é" * 43, ["list"], 42):
        assert store.restore(value, "browser") is None
        assert not looks_like_token(value)


def test_saved_work_is_kept_for_a_bounded_time_and_count():
    clock = Clock()
    store = ResumeStore(ttl_s=100, max_entries=2, clock=clock)
    first, second, third = new_token(), new_token(), new_token()
    store.save(first, "a", 1)
    clock.now = 50
    store.save(second, "b", 2)
    clock.now = 120  # the first is older than 100 s
    assert store.restore(first, "a") is None and store.restore(second, "b") == 2
    store.save(third, "c", 3)
    store.save(first, "a", 1)  # over the cap: the oldest (second) goes
    assert store.restore(second, "b") is None and len(store) == 2


def entry(session, nickname, accuracy, run_id="r1", lesson="overfitting"):
    return BoardEntry(
        session, nickname, lesson, run_id, {"optimizer": "adam"}, {"val_accuracy": accuracy},
        {"val_loss": [1.0, 0.5]},
    )  # fmt: skip


def test_entries_appear_only_when_posted_and_leave_with_their_participant():
    clock = Clock()
    board = RoomBoard(liveness_s=60, clock=clock)
    assert board.entries() == []
    board.post(entry("s1", "Ana", 0.9))
    board.post(entry("s2", "Ben", 0.95))
    board.post(entry("s1", "Ana", 0.97, run_id="r2"))
    assert [e.nickname for e in board.leaderboard("val_accuracy")] == ["Ana", "Ben"]
    board.leave("s1")
    assert [e.session for e in board.entries()] == ["s2"]
    clock.now = 61  # s2 closed the tab: no heartbeat for 61 s
    board.prune()
    assert board.entries() == []


def test_a_heartbeat_keeps_entries_and_the_board_is_bounded():
    clock = Clock()
    board = RoomBoard(liveness_s=60, clock=clock)
    board.post(entry("s1", "Ana", 0.9))
    clock.now = 50
    board.heartbeat("s1")
    clock.now = 100
    board.prune()
    assert len(board.entries()) == 1
    posted = [board.post(entry("s1", "Ana", 0.5, run_id=f"x{i}")) for i in range(20)]
    assert posted.count(True) == 9  # 10 per participant


def test_the_facilitator_password_and_nicknames():
    assert password_ok("s3cret", "s3cret")
    assert not password_ok("s3cre", "s3cret") and not password_ok("", "s3cret")
    assert not password_ok("anything", None) and not password_ok("anything", "")
    assert not password_ok(None, "s3cret")
    assert clean_nickname("  Ana\n<b>x</b>" + "y" * 100) == ("Ana<b>x</b>" + "y" * 100)[:40]


def test_the_browser_binding_survives_a_new_mask_of_the_same_xsrf_token():
    token = bytes(range(16))
    masks = [bytes([7] * 16), bytes([200] * 16)]
    cookies = [
        f"2|{m.hex()}|{bytes(a ^ b for a, b in zip(m, token, strict=True)).hex()}|1700000000"
        for m in masks
    ]
    assert browser_binding(cookies[0]) == browser_binding(cookies[1]) == token.hex()
    assert browser_binding("2|zz|zz|1") == "" and browser_binding(None) == ""
    assert browser_binding(cookies[0]) != browser_binding(cookies[0].replace("|07", "|08", 1))
