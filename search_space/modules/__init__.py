"""One small class per paper concept, each reachable by name from a config (timm's create_attn pattern)."""

from search_space.modules.backbones import BACKBONES, create_backbone
from search_space.modules.downsample import DOWNSAMPLES
from search_space.modules.gap_fusion import GAP_FUSION_OPS
from search_space.modules.merge import MERGES
from search_space.modules.scfusion import SCFusionConv, sparsify
from search_space.modules.table import CountsItsWork, ModuleTable

__all__ = ["BACKBONES", "DOWNSAMPLES", "GAP_FUSION_OPS", "MERGES", "CountsItsWork", "ModuleTable", "SCFusionConv",
           "create_backbone", "sparsify"]
