// SPDX-License-Identifier: MIT
// Not EtherFi's code: ours, for basis-core tests. A minimal share-based eETH speaking the ABI of EtherFi's
// EETH (src/core/EETH.sol of etherfi-protocol/smart-contracts): shares / totalShares, balanceOf =
// LiquidityPool.getTotalEtherClaimOf, transfers move LiquidityPool.sharesForAmount(amount) shares,
// mintShares / burnShares for the pool (burnShares also for the withdraw-request NFT's own shares through the
// pool), events Transfer / Approval / TransferShares. No proxy, roles, permit, blacklist or rate limiter.
pragma solidity ^0.8.20;

interface ILiquidityPoolForEETH {
    function getTotalEtherClaimOf(address _user) external view returns (uint256);
    function getTotalPooledEther() external view returns (uint256);
    function sharesForAmount(uint256 _amount) external view returns (uint256);
}

contract EETH {
    ILiquidityPoolForEETH public immutable liquidityPool;

    uint256 public totalShares;
    mapping(address => uint256) public shares;
    mapping(address => mapping(address => uint256)) public allowances;

    event Transfer(address indexed from, address indexed to, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);
    event TransferShares(address indexed from, address indexed to, uint256 sharesValue);

    error OnlyPoolContract();
    error TransferAmountExceedsBalance();
    error TransferAmountExceedsAllowance();
    error AddressZero();

    constructor(address _liquidityPool) {
        liquidityPool = ILiquidityPoolForEETH(_liquidityPool);
    }

    modifier onlyPoolContract() {
        if (msg.sender != address(liquidityPool)) revert OnlyPoolContract();
        _;
    }

    function name() public pure returns (string memory) { return "ether.fi ETH"; }
    function symbol() public pure returns (string memory) { return "eETH"; }
    function decimals() public pure returns (uint8) { return 18; }

    function totalSupply() public view returns (uint256) {
        return liquidityPool.getTotalPooledEther();
    }

    function balanceOf(address _user) public view returns (uint256) {
        return liquidityPool.getTotalEtherClaimOf(_user);
    }

    function allowance(address _owner, address _spender) public view returns (uint256) {
        return allowances[_owner][_spender];
    }

    function mintShares(address _user, uint256 _share) external onlyPoolContract {
        shares[_user] += _share;
        totalShares += _share;
        emit TransferShares(address(0), _user, _share);
    }

    function burnShares(address _user, uint256 _share) external onlyPoolContract {
        if (shares[_user] < _share) revert TransferAmountExceedsBalance();
        shares[_user] -= _share;
        totalShares -= _share;
        emit TransferShares(_user, address(0), _share);
    }

    function transfer(address _recipient, uint256 _amount) external returns (bool) {
        _transfer(msg.sender, _recipient, _amount);
        return true;
    }

    function approve(address _spender, uint256 _amount) external returns (bool) {
        _approve(msg.sender, _spender, _amount);
        return true;
    }

    function transferFrom(address _sender, address _recipient, uint256 _amount) external returns (bool) {
        uint256 currentAllowance = allowances[_sender][msg.sender];
        if (currentAllowance < _amount) revert TransferAmountExceedsAllowance();
        unchecked {
            _approve(_sender, msg.sender, currentAllowance - _amount);
        }
        _transfer(_sender, _recipient, _amount);
        return true;
    }

    function _transfer(address _sender, address _recipient, uint256 _amount) internal {
        if (_sender == address(0) || _recipient == address(0)) revert AddressZero();
        uint256 _sharesToTransfer = liquidityPool.sharesForAmount(_amount);
        if (_sharesToTransfer > shares[_sender]) revert TransferAmountExceedsBalance();
        shares[_sender] -= _sharesToTransfer;
        shares[_recipient] += _sharesToTransfer;
        emit TransferShares(_sender, _recipient, _sharesToTransfer);
        emit Transfer(_sender, _recipient, _amount);
    }

    function _approve(address _owner, address _spender, uint256 _amount) internal {
        if (_owner == address(0) || _spender == address(0)) revert AddressZero();
        allowances[_owner][_spender] = _amount;
        emit Approval(_owner, _spender, _amount);
    }
}
