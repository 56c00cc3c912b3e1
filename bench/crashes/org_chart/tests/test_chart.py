from org.chart import approvers, chain_of_command

MANAGERS = {"ceo": None, "cto": "ceo", "eng-lead": "cto", "dev": "eng-lead"}


def test_chain_goes_to_the_top():
    assert chain_of_command(MANAGERS, "dev") == ["eng-lead", "cto", "ceo"]


def test_ceo_has_no_managers():
    assert chain_of_command(MANAGERS, "ceo") == []


def test_two_approvers():
    assert approvers(MANAGERS, "dev") == ["eng-lead", "cto"]
