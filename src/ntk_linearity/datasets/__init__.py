"""Custom Kedro datasets for ntk-linearity (only where kedro-datasets has none)."""

from ntk_linearity.datasets.atomic_csv_dataset import AtomicCSVDataset
from ntk_linearity.datasets.atomic_json_dataset import AtomicJSONDataset
from ntk_linearity.datasets.html_report_dataset import HtmlReportDataset
from ntk_linearity.datasets.npz_dataset import NpzDataset

__all__ = ["AtomicCSVDataset", "AtomicJSONDataset", "HtmlReportDataset", "NpzDataset"]
