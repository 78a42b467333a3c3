pytest_plugins = ["pytester"]


def test_timeout_diagnosis_becomes_a_report_section(pytester):
    pytester.makepyfile('''
        from harness.waits import eventually

        def test_stuck():
            eventually(lambda: None, timeout=0.1, description="order confirmed",
                       diagnose=lambda: "order o-1: last seen in the ingest DLQ")
    ''')
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = session\n")
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*where it got stuck (harness diagnosis)*",
                                 "*order o-1: last seen in the ingest DLQ*"])
