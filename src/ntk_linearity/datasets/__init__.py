"""Custom Kedro datasets for ntk-linearity (only where kedro-datasets has none)."""

from ntk_linearity.datasets.atomic_csv_dataset import AtomicCSVDataset
from ntk_linearity.datasets.atomic_json_dataset import AtomicJSONDataset
from ntk_linearity.datasets.atomic_matplotlib_dataset import AtomicMatplotlibDataset
from ntk_linearity.datasets.atomic_text_dataset import AtomicTextDataset
from ntk_linearity.datasets.bundle_dataset import BundleDataset
from ntk_linearity.datasets.html_report_dataset import HtmlReportDataset
from ntk_linearity.datasets.npz_dataset import NpzDataset

__all__ = ["AtomicCSVDataset", "AtomicJSONDataset", "AtomicMatplotlibDataset", "AtomicTextDataset",
           "BundleDataset", "HtmlReportDataset", "NpzDataset"]
