from .text import mentions


def test_a_name_inside_a_random_token_is_not_a_mention():
    html = '<input name="csrfmiddlewaretoken" value="u7fYLZd4igOllybsxdqER4er2sB">'
    assert not mentions(html, "Olly")


def test_a_phrase_where_a_word_starts_is_a_mention():
    assert mentions("<p>Welcome, Olly.</p>", "Olly")
    assert mentions("<td>Olly Other</td>", "Olly Other")
    assert mentions("<th>Scores</th>", "Score")
    assert not mentions("<p>Cara</p>", "Olly")
