from click.testing import CliRunner

from osltools.cli import main


def test_pca_command(public_data_dir):
    result = CliRunner().invoke(main, ["pca", "--dataset", "obsscaling-base", "--model-set", "main", "--bootstrap",
                                       "30", "--seed", "1"])
    assert result.exit_code == 0, result.output
    for text in ("Explained variance", "explained_variance_ratio_lower", "Interpretation", "general",
                 "Choice of the number of components", "Recommended K", "Parallel analysis"):
        assert text in result.output


def test_pca_bad_k(public_data_dir):
    result = CliRunner().invoke(main, ["pca", "--dataset", "obsscaling-base", "--k", "12"])
    assert result.exit_code == 1 and "n_components=12" in result.output and "Traceback" not in result.output
